"""Imported first by every production script: under an interpreter without the project's packages (the system
`python3`, or `./script.py` through its `#!/usr/bin/env python3` line outside the virtual environment) the script
stops here with one line naming the interpreter to use, and exit 78 (a configuration error in the README's
exit-code table), instead of an import traceback and exit 1, which the table reserves for "unhealthy".

Standard library only, and nothing is imported here: the packages are looked up (importlib.util.find_spec),
so a healthy start pays microseconds. Written for any Python 3.6 or newer, so an old interpreter gets the line too.
"""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
EX_CONFIG = 78
MIN_PYTHON = (3, 11)
# the project itself and the packages every script imports at start (requirements.txt's import names)
NEEDED = ("pipeline", "click", "dotenv", "sqlalchemy", "alembic", "numpy", "pandas")


def missing(names=NEEDED):
    """The import names in `names` this interpreter cannot find."""
    out = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def problem():
    """Why this interpreter cannot run the jobs, or None."""
    if sys.version_info[:2] < MIN_PYTHON:
        have, need = ".".join(map(str, sys.version_info[:2])), ".".join(map(str, MIN_PYTHON))
        return f"is Python {have} (the project needs {need} or newer)"
    gone = missing()
    if gone:
        return f"has no {', '.join(gone)}"
    return None


def message(script, why):
    python = os.path.join(VENV, "bin", "python")
    if os.path.exists(python):
        use = f"run it with the project's virtual environment: {python} {script}"
    else:
        use = f"create the project's virtual environment {VENV} first: cd {ROOT} && python3 -m venv .venv && "
        use += ".venv/bin/pip install -r requirements.txt (README: Installation)"
    return f"{script}: this interpreter ({sys.executable or 'python'}) {why}; {use}"


def check(script=None):
    why = problem()
    if why is not None:
        sys.stderr.write(message(script or sys.argv[0] or "this script", why) + "\n")
        raise SystemExit(EX_CONFIG)


check()
