"""Booking use cases: book, read, list, change, cancel, find slots, plan a regional round."""
