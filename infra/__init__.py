"""Everything about running Portico: the local stack (``infra.local``) and deploy helpers."""
