"""Launch Digit Studio: ``python main.py [FOLDER] [--model PATH]``."""

import sys

from digitgui.app import main

if __name__ == "__main__":
    sys.exit(main())
