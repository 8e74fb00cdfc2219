from .cli import main

# Guarded: worker processes (spawn) import the driver's __main__ and must not run the CLI.
if __name__ == "__main__":
    main()
