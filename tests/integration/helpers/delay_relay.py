#!/usr/bin/env python3
"""delay_relay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

A TCP relay that holds every chunk DELAY_MS before passing it on, in both
directions, keeping order: a known added round trip of 2 x DELAY_MS for a
small echo.  Used by t_links.sh where the kernel has no netem qdisc.
Prints "listening" once ready; runs until killed."""
import asyncio
import sys

host, port, thost, tport, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]) / 1000


async def pipe(reader, writer):
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()

    async def sender():
        while True:
            due, data = await q.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:  # pass the half-close on, keep the other way open
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(65536)
            q.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
        await task
    except (ConnectionError, asyncio.CancelledError):
        task.cancel()


async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection(thost, tport)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)
    uw.close()
    cw.close()


async def main():
    server = await asyncio.start_server(handle, host, port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
