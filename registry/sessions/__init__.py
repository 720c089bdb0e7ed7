"""Who is signed in: contacts (by SMS code) and staff (by password), each in one module."""
