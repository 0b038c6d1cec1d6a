"""Server-rendered pages: one router module (and template folder) per area."""
