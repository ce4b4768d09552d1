"""core/panning"""
