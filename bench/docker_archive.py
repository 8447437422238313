"""A docker-archive (what `docker save` writes) of uncompressed layer tars, for the benchmarks."""
import hashlib
import io
import json
import tarfile


def write(out, name, layers):
    """Writes the image `name` of `layers` (tar bytes, bottom first) with a `sh` config to `out`."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(out, "w") as archive:
        def add(member, data):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        names = []
        for layer, diff_id in zip(layers, diff_ids):
            names.append(diff_id[7:] + "/layer.tar")
            add(names[-1], layer)
        add(config_name, config)
        add("manifest.json", json.dumps(
            [{"Config": config_name, "RepoTags": [name], "Layers": names}]).encode())
