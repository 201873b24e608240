"""A test case with one `capillary serve` for the whole class, and what signed tests need around
it: the master key to derive tenants' secrets from, fresh idempotency keys and fresh party ids.

    class MyTest(TenantTestCase):
        first_party = 1000        # ids handed out by party(); keep classes apart
"""

import os
import shutil
import tempfile
import unittest

import api_test  # its Server runs `capillary serve`


class TenantTestCase(unittest.TestCase):
    first_party = 1000

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="capillary-tenant-")
        cls.server = api_test.Server(os.path.join(cls.directory, "data"))
        cls.server.start()
        with open(os.path.join(cls.server.data_dir, "master.key"), "rb") as key:
            cls.master = key.read()
        cls.counter = 0
        cls.next_party = cls.first_party

    @classmethod
    def tearDownClass(cls):
        if cls.server.process is not None:
            cls.server.stop()
        shutil.rmtree(cls.directory)

    def key(self):
        """A fresh idempotency key."""
        type(self).counter += 1
        return f"k-{os.getpid()}-{self.counter}"

    def party(self):
        """A fresh user or merchant id."""
        type(self).next_party += 1
        return self.next_party
