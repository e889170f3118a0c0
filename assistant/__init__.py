"""The assistant's shared library: settings, language, dates and service clients.

Pure Python with no Rasa import, so that the Rasa process, the action server and the
benchmarks can all use it.
"""
