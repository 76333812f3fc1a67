#!/bin/sh
# The distribution's kafka-run-class.sh, reduced to what this image needs: java with every jar of libs/. The
# broker (kafka.Kafka) logs with the configuration the entrypoint wrote, the tools with tools-log4j2.yaml.
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS and KAFKA_OPTS as in the distribution.
# The distribution's JVM options are the broker's; here the short-lived tools and the entrypoint's configuration
# step get a client JIT and the serial collector by default (a much faster start on a busy 2-core host).
case "$1" in
  kafka.Kafka)
    log_config=/opt/kafka/config/log4j2.yaml; heap="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
    perf="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}" ;;
  *)
    log_config=/etc/kafka/docker/tools-log4j2.yaml; heap="${KAFKA_HEAP_OPTS:--Xmx256M}"
    perf="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true}" ;;
esac
# shellcheck disable=SC2086 # the option variables hold several JVM flags each
exec java $heap $perf \
  ${KAFKA_OPTS:-} -Dlog4j2.configurationFile="$log_config" -cp '/opt/kafka/libs/*' "$@"
