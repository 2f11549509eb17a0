# Jaeger v2, packaged from the jaeger binary scripts/install-jaeger.sh builds on the host
# (v1.76.0 from the Go module proxy), in the layout of the public image
# (jaegertracing/jaeger:2.13.0, the same release): the binary at /cmd/jaeger/jaeger-linux
# as the ENTRYPOINT, JAEGER_LISTEN_HOST=0.0.0.0 so the all-in-one default configuration
# (memory storage, OTLP on 4317/4318, UI and query API on 16686) is reachable from the
# other containers, user 10001. A compose service therefore runs the same on either image.
#
# Built by compose/images/build-offline.sh; its build context is a folder holding `jaeger`.
#
# JAEGER_BASE: scratch for a static binary (install-jaeger.sh builds with CGO off), or an
# image with a libc (the Debian base) for one that links libc dynamically.
ARG JAEGER_BASE=scratch
FROM ${JAEGER_BASE}
ENV JAEGER_LISTEN_HOST=0.0.0.0
COPY jaeger /cmd/jaeger/jaeger-linux
EXPOSE 4317 4318 16686 13133
VOLUME ["/tmp"]
USER 10001
ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]
