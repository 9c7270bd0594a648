"""A transparent TCP proxy that adds a fixed latency each way: the rehearsal's added-latency
fault (this kernel has no `netem`). Run inside a host's namespace, it receives the connections an
iptables REDIRECT sends it, finds where each was going (SO_ORIGINAL_DST), and connects there with
its own sockets marked so that the same rule lets them through.

    python -m rehearsal.delay_proxy --port 15000 --delay-ms 100 --mark 0x5b5
"""

import argparse
import asyncio
import socket
import struct
import time

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
CONNECT_TIMEOUT = 5.0
CHUNK = 65536
QUEUED_CHUNKS = 64  # per direction: a slow reader holds the sender back, memory stays bounded


def original_destination(connection: socket.socket) -> tuple[str, int]:
    """Where a REDIRECTed connection was going (struct sockaddr_in)."""
    raw = connection.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(packed), port


async def connect_marked(address: tuple[str, int], mark: int) -> socket.socket:
    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    upstream.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    upstream.setblocking(False)
    try:
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(upstream, address), CONNECT_TIMEOUT
        )
    except BaseException:
        upstream.close()
        raise
    return upstream


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer, each chunk (and the end) delivered `delay` after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)

    async def receive() -> None:
        while chunk := await reader.read(CHUNK):
            await queue.put((time.monotonic() + delay, chunk))
        await queue.put((time.monotonic() + delay, b""))

    receiving = asyncio.create_task(receive())
    try:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()
    finally:
        receiving.cancel()


async def relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    delay: float,
    mark: int,
) -> None:
    try:
        address = original_destination(client_writer.get_extra_info("socket"))
        upstream = await connect_marked(address, mark)
        upstream_reader, upstream_writer = await asyncio.open_connection(sock=upstream)
    except (OSError, TimeoutError):
        client_writer.close()
        return
    try:
        await asyncio.gather(
            pipe(client_reader, upstream_writer, delay),
            pipe(upstream_reader, client_writer, delay),
        )
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        upstream_writer.close()
        client_writer.close()


async def serve(port: int, delay: float, mark: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: relay(r, w, delay, mark), "127.0.0.1", port, reuse_address=True
    )
    print(f"delaying every redirected connection by {delay * 1000:.0f} ms each way", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    arguments = argparse.ArgumentParser(prog="python -m rehearsal.delay_proxy")
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--delay-ms", type=float, required=True)
    arguments.add_argument("--mark", type=lambda text: int(text, 0), required=True)
    parsed = arguments.parse_args()
    asyncio.run(serve(parsed.port, parsed.delay_ms / 1000, parsed.mark))


if __name__ == "__main__":
    main()
