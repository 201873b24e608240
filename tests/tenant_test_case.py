"""A test case with one `capillary serve` for the whole class, and what signed tests need around
it: the master key to derive tenants' secrets from, fresh idempotency keys and fresh party ids.

    class MyTest(TenantTestCase):
        first_party = 1000        # ids handed out by party(); keep classes apart
"""

import os
import shutil
import tempfile
import unittest

import json

import api_test  # its Server runs `capillary serve`
from signing import derive_secret, signed_headers

PLATFORM = "platform:0"


class TenantTestCase(unittest.TestCase):
    first_party = 1000
    server_args = ()  # extra `capillary serve` flags

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="capillary-tenant-")
        cls.server = api_test.Server(os.path.join(cls.directory, "data"), cls.server_args)
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

    def send(self, method, path, body=None, as_key=PLATFORM, idempotency_key=None, timestamp=None,
             secret=None):
        raw = b"" if body is None else json.dumps(body).encode()
        headers = signed_headers(as_key, secret or derive_secret(self.master, as_key), method, path, raw,
                                 timestamp=timestamp)
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or self.key()
        status, _, answer = self.server.request(method, path, raw if body is not None else None,
                                                headers=headers)
        return status, answer

    def ok(self, method, path, body=None, as_key=PLATFORM):
        status, answer = self.send(method, path, body, as_key)
        self.assertEqual(status, 200, answer)
        if isinstance(answer, dict) and "result" in answer:
            self.assertEqual(answer["result"], "ok", answer)
        return answer

    def rejected(self, method, path, body, result, as_key=PLATFORM, status=422):
        got_status, answer = self.send(method, path, body, as_key)
        self.assertEqual((got_status, answer.get("result")), (status, result), answer)
        return answer
