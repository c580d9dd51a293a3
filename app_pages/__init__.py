"""Pages of the Streamlit app (one script per page) and the helpers they share."""
