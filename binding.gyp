{
  "targets": [
    {
      "target_name": "dynwork_sha512",
      "sources": ["native/sha512.c"],
      "cflags": ["-O2"]
    }
  ]
}
