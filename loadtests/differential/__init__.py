"""The differential corpus: raw HTTP through gatemesh, HAProxy and nginx side by side."""
