# ossmount in a container, e.g. as a Kubernetes sidecar that mounts the bucket
# for a registry container through a shared volume with Bidirectional mount
# propagation. The container needs /dev/fuse and CAP_SYS_ADMIN.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ossmount .

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates fuse3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ossmount /usr/local/bin/ossmount
# Credentials come from the environment (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET)
# or a mounted --credentials-file; never put them in the command line.
ENTRYPOINT ["/usr/local/bin/ossmount", "--foreground", "--cache-dir", "/var/cache/ossmount"]
