"""Server-rendered pages: GOV.UK Frontend templates, CSRF, cookies and HTML error pages."""
