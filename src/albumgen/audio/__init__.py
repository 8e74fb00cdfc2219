"""Audio helpers shared by stages: reading and writing files, finding ffmpeg."""
