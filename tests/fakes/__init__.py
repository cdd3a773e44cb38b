"""Local HTTP servers that speak the subset of remote APIs (OpenAI, Cloudinary) the services use.

Tests point the real SDKs at them; nothing patches an SDK. Each server runs in a thread of its own, so
synchronous SDKs (Cloudinary) and async ones (OpenAI) can both call it from any test.
"""
