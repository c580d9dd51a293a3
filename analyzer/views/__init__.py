"""Read models for the app and the Python API: DataFrames, dicts and Plotly figures, no Streamlit."""
