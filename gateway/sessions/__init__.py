"""Server-side browser sessions: who signed in, how and when, and the pages that use them."""
