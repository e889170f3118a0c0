"""The API's routes, one module per resource, each with its request and response
shapes; `apps/api/app.py` includes their routers."""
