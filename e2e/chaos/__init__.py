"""The chaos suite's parts; e2e/test_chaos.py is the one test that runs them."""
