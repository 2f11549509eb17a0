# Prometheus from Debian's own `prometheus` package (bookworm: 2.42.0, the version the
# process runner runs) on the debootstrapped base, in the layout of the public image
# (prom/prometheus:v2.42.0): /bin/prometheus as the ENTRYPOINT, the config at
# /etc/prometheus/prometheus.yml, the TSDB in the /prometheus volume, user nobody. A
# compose service that gives its own flags therefore runs the same on either image.
#
# Built by compose/images/build-offline.sh (BASE_IMAGE=gatemesh/debian-python:3.11, whose
# apt sources are the host's Debian mirror). The base's policy-rc.d keeps the package's
# service from being started during the install.
ARG BASE_IMAGE=gatemesh/debian-python:3.11
FROM ${BASE_IMAGE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus \
 && chown nobody:nogroup /prometheus \
 && /bin/prometheus --version
USER nobody
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
