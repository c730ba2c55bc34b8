"""REST API and the outlet pages: `simkyc.api.app.create_app(settings)` builds the FastAPI app.

- `app`: the factory (routers, problem handlers, size cap, metrics, static pages);
- `context`: what one app holds (database, read-only engine, session signer, limits, captures);
- `deps`: `Annotated` dependencies naming the roles each route admits;
- `problems`: `SimkycError` -> `application/problem+json` with `reason`;
- `capture`: live liveness sessions fed by streamed frames;
- `queries`: read models for the pages; `platform_lookup`: the platform check's hot path;
- `routes/`: one router per resource.
"""
