# Toxiproxy, packaged from a toxiproxy-server binary built or installed on the host, in
# the layout of the public image (ghcr.io/shopify/toxiproxy): the server at /toxiproxy
# as the ENTRYPOINT, the CLI at /toxiproxy-cli, API port 8474. A compose service that
# says `command: ["-host=0.0.0.0", "-config=/config/toxiproxy.json"]` therefore runs the
# same on either image.
#
# Built by compose/images/build-offline.sh; its build context is a folder holding
# `toxiproxy` (the server) and, when there is one, `toxiproxy-cli`.
#
# TOXIPROXY_BASE: scratch for a static binary (CGO off, as the public image's is), or an
# image with a libc (the Debian base) for a binary that links libc dynamically.
ARG TOXIPROXY_BASE=scratch
FROM ${TOXIPROXY_BASE}
# The wildcard lets the CLI be absent: it is a convenience, the server is the point.
COPY toxiproxy toxiproxy-cl[i] /
ENV LOG_LEVEL=info
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
