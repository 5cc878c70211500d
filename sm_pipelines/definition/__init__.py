"""The compiled definition JSON: the one reader (`document`), its checks against service limits
and the public schema (`validate`, `schema`) and its Mermaid drawing (`graph`)."""
