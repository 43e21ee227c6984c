"""``python -m imgpipe.cli``: the imgpipe command without its installed script."""

import sys

from imgpipe.cli import main

sys.exit(main())
