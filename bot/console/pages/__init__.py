"""One module per console page; each gives ``build_router(console) -> APIRouter``."""
