"""Measurement helpers: fresh processes and their peak resident memory (Linux)."""

import multiprocessing


def reset_peak_rss():
    """Reset the kernel's high-water mark of this process (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def status_bytes(field):
    """A memory field of /proc/self/status (e.g. VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def in_fresh_process(target, *args):
    """Run ``target(queue, *args)`` in a spawned process; return what it puts."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(queue, *args))
    process.start()
    result = queue.get()
    process.join()
    return result
