"""(filled in by its module owners)"""
