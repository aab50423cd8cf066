"""``python -m digitgui [FOLDER] [--model PATH]``: start the app."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
