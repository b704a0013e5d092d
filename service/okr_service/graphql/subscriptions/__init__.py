"""Live updates over WebSockets (graphql-transport-ws, and the older graphql-ws)."""
