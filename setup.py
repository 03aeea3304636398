"""Build hook for the optional C extension; the project's metadata is in pyproject.toml.

``chaincrawler.chain._speedups`` is optional: without a C compiler (or Python headers)
the install still succeeds and chaincrawler runs on its pure-Python code.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "chaincrawler.chain._speedups",
            sources=["chaincrawler/chain/_speedups.c"],
            optional=True,
        )
    ]
)
