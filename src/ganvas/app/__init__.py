"""The web page of ganvas (`ganvas app MODEL`): a Streamlit playground built on the public API
only (`ganvas.load` and the Model's methods).

    page.py           the page: header, sidebar settings, one tab per section
    gallery.py, sliders.py, walk.py, mixing.py, card.py   the sections
    render.py         the model loaded once, cached API calls
    widgets.py        sampling settings, error messages, PNG downloads
    images.py         grids, enlargement, PNG bytes (in memory)
    inputs.py         checks of typed seed lists and uploaded pictures
    launch.py         `ganvas app`: check the model, run `streamlit run streamlit_app.py`

Streamlit is imported by the page modules only, so `import ganvas.app.launch` works without it.
"""
