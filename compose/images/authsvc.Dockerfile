# syntax=docker/dockerfile:1
# authsvc image. Build context: the repository root (compose/auth.yaml sets it).
#   docker build -f compose/images/authsvc.Dockerfile -t mcp-oauth-gateway/authsvc .

# Stage 1: a static authsvc binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY authsvc/ authsvc/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/authsvc ./authsvc

# Stage 2: Alpine for busybox wget, which the compose healthcheck uses to GET /health
# (200 only when Redis answers), and CA certificates for the calls to GitHub.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S authsvc && adduser -S -G authsvc -H -h /nonexistent authsvc \
 && mkdir -p /var/lib/authsvc/keys && chown authsvc:authsvc /var/lib/authsvc/keys
COPY --from=build /out/authsvc /usr/local/bin/authsvc
USER authsvc
EXPOSE 8000
ENV LISTEN_ADDR=:8000 LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/authsvc"]
