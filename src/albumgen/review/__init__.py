"""`albumgen review`: a local page to hear, see and choose takes, and a static export.

model reads the album without the lock, pictures draws and caches the PNGs, pages writes
the HTML, actions applies a person's choice through the pick stage's library calls, server
serves it all on loopback, export writes the shareable report.
"""
