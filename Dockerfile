# elector container image: the daemon and its backend plugins.
#
#   docker build -t elector:dev .
#   make image IMAGE=registry.example/elector:0.1.0   (then make image-push)
#
# elector publishes no image: push this one to a registry your cluster pulls
# from and give the Helm chart image.repository / image.tag.
#
# Stage 1 builds on Debian 12 with the -dev packages; stage 2 is Debian 12
# slim with only the runtime libraries, running as a numeric non-root user
# (so Kubernetes runAsNonRoot can verify it). No secret is baked in: tokens
# and passwords are mounted from Kubernetes Secrets at run time.

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libcurl4-openssl-dev libjansson-dev libgit2-dev libhiredis-dev \
      libmicrohttpd-dev libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" BUILD=build \
 && make install BUILD=build PREFIX=/usr/local DESTDIR=/out

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcurl4 libjansson4 libgit2-1.5 libhiredis0.14 libmicrohttpd12 \
      libyaml-0-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/ /usr/local/
# Fail the build if the daemon or a plugin misses a runtime library.
RUN ldconfig \
 && ! ldd /usr/local/bin/elector /usr/local/lib/elector/*.so /usr/local/lib/elector/ext/*.so | grep 'not found' \
 && /usr/local/bin/elector version
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/elector"]
