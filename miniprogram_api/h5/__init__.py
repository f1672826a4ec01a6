"""Server-rendered H5 pages: what a phone camera (not WeChat) opens when scanning a QR code."""

from miniprogram_api.h5.render import render_error_page, render_verification_page

__all__ = ["render_error_page", "render_verification_page"]
