"""Web workbench and REST API (FastAPI, Jinja2): ``daihou.web.app.create_app``."""
