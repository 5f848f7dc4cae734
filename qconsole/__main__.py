import sys

from qconsole.cli import main

sys.exit(main())
