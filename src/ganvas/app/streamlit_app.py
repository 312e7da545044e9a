"""The script `streamlit run` executes: `streamlit run streamlit_app.py -- MODEL`
(`ganvas app MODEL` builds that command line)."""

import sys

from ganvas.app.page import main

main(sys.argv[1:])
