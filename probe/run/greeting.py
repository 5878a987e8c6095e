"""Is anything listening at an MX address nothing was asked at? A connection, the greeting, QUIT: the IPv6 check of an
answering host (probe.run.ipv6check) and the check of its untried equal-preference peers (probe.run.peercheck).

Nothing but the greeting is read, through the bounded client (probe.smtp.wire: a reply's lines and bytes are limited,
the whole greeting within the timeout), so a hostile or broken peer costs one timeout.
"""

from __future__ import annotations

from probe.smtp.wire import (
    ConnectError,
    ConnectRefused,
    ConnectTimeout,
    ConnectUnreachable,
    Wire,
    WireClosed,
    WireError,
    WireTimeout,
)


async def greeting_of(ip: str, port: int, timeout_s: float, *, local_host: str | None = None,
                      refusal_counts: bool = False) -> tuple[bool, str] | None:
    """None when the server at ip:port greeted (then QUIT was said); else (dead, what happened): dead True when
    the address itself is at fault (refused, closed without a greeting, not SMTP), False when this machine's
    network or a deliberately slow greeting is as likely the cause. With `refusal_counts`, a greeting that is
    not 2xx (a 421, postscreen's 521) is (False, what it said): a sender walking the MX list goes on past it too."""
    try:
        wire = await Wire.connect(ip, port, timeout_s=timeout_s, local_host=local_host)
    except ConnectRefused:
        return True, "refused the connection"
    except ConnectTimeout:
        return False, (f"the connection did not complete within {timeout_s:g} s "
                       "(a filter on either side, or no IPv6 route)")
    except ConnectUnreachable as exc:
        return False, f"this machine could not reach it ({exc})"
    except ConnectError as exc:
        return False, f"the connection failed ({exc})"
    try:
        reply = await wire.read_reply(timeout_s, step="reading the greeting")
    except WireTimeout as exc:
        if not exc.partial:  # a server may delay its greeting on purpose (a tarpit, postscreen's greet wait)
            return False, f"it accepted the connection and sent no greeting within {timeout_s:g} s"
        return True, f"accepted the connection but sent no complete greeting within {timeout_s:g} s"
    except WireClosed:
        return True, "accepted the connection and closed it without a greeting"
    except WireError:
        return True, "accepted the connection but answered no SMTP greeting"
    finally:
        await wire.close(quit=True)  # QUIT only once the server has greeted (Wire.close)
    if refusal_counts and not 200 <= reply.code < 300:
        return False, f"greeted with {reply.headline}"
    return None
