"""Desktop clients on real pods: a Job of the stand-in's desktop role with a desktop key Secret
mounted, and the copy of a key Secret that a user keeps after revocation."""

from __future__ import annotations

import copy

from pico_harness.support import realpods_env as rp

DESKTOP_DIR = "/etc/pico/desktop"  # the stand-in's default (standin.desktop.dir)


def copy_secret(env: rp.RealPods, ns: str, name: str, new_name: str) -> None:
    """A copy of Secret `name` (e.g. a desktop key kept by its user after revocation)."""
    secret = env.get("secret", name, "-n", ns)
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": new_name, "namespace": ns},
        "type": secret.get("type", "Opaque"),
        "data": copy.deepcopy(secret["data"]),
    }
    env.apply(doc, "--server-side")  # no last-applied annotation holding the data


def run_desktop(env: rp.RealPods, ns: str, secret: str, job: str, timeout: float = 120) -> int:
    """A Job of the stand-in's desktop role with `secret` mounted: connects once to the
    Platform's Service; returns its exit code (0 ok, 10 refused by the Platform's TLS)."""
    doc = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job, "namespace": ns},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"picotls.dev/test": "desktop"}},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": dict(rp.REAL_NODE_SELECTOR),
                    "securityContext": {"fsGroup": 10001},
                    "containers": [
                        {
                            "name": "desktop",
                            "image": env.standin,
                            "imagePullPolicy": "Never",
                            "env": [{"name": "PICO_ROLE", "value": "desktop"}],
                            "args": [
                                "-e",
                                f"pico.rcp.platform.host=mz.{ns}.svc",
                                "-e",
                                "pico.rcp.platform.port=6790",
                            ],
                            "volumeMounts": [
                                {"name": "key", "mountPath": DESKTOP_DIR, "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "key", "secret": {"secretName": secret, "defaultMode": 0o440}}
                    ],
                },
            },
        },
    }
    env.apply(doc)

    def exit_code() -> int | None:
        pods = env.get("pods", "-n", ns, "-l", f"job-name={job}")["items"]
        for pod in pods:
            for status in pod.get("status", {}).get("containerStatuses", []):
                terminated = status.get("state", {}).get("terminated")
                if terminated is not None:
                    return int(terminated["exitCode"])
        return None

    env.wait(f"desktop job {job} ended", lambda: exit_code() is not None, timeout)
    code = exit_code()
    assert code is not None
    return code
