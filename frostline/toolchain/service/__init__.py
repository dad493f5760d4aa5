"""Out-of-process compilation: compiler worker processes speaking JSON-RPC 2.0 over pipes
(``protocol``, ``worker``) and the pool that runs them (``pool``)."""
