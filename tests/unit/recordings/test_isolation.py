"""The recordings package stays independent of the web app (DESIGN.md: imports nothing of ours)."""

from __future__ import annotations

import subprocess
import sys


def test_recordings_imports_neither_flask_nor_callcenter():
    code = (
        "import sys\n"
        "import recordings.audio, recordings.crypto, recordings.keys, recordings.storage\n"
        "import recordings.wavcheck\n"
        "ours = ('flask', 'callcenter', 'worker')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ours)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
