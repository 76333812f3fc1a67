import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeTransactionsOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;

/**
 * Readiness probe for the local broker: waits until the broker answers metadata requests
 * (DescribeCluster lists a live node, ListTopics works) and until the group and transaction
 * coordinators are available (the first lookup creates __consumer_offsets / __transaction_state,
 * so clients do not hit COORDINATOR_NOT_AVAILABLE retries later).
 *
 * Usage: java -cp LIBS KafkaReady BOOTSTRAP TIMEOUT_SECONDS [BROKER_PID]
 * Exit 0 when ready, 1 on timeout, 2 when the broker process is gone.
 */
public final class KafkaReady {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000L;
        long pid = args.length > 2 ? Long.parseLong(args[2]) : -1L;

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "infra-ready-check");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "200");
        props.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");

        String stage = "metadata";
        Throwable last = null;
        try (Admin admin = Admin.create(props)) {
            while (true) {
                if (pid > 0 && !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    System.err.println("broker process " + pid + " exited");
                    System.exit(2);
                }
                try {
                    if (stage.equals("metadata")) {
                        DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs(5000));
                        Collection<Node> nodes = cluster.nodes().get();
                        String clusterId = cluster.clusterId().get();
                        if (!nodes.isEmpty()) {
                            admin.listTopics(new ListTopicsOptions().listInternal(true).timeoutMs(5000)).names().get();
                            System.out.println("broker answers: cluster " + clusterId + ", nodes " + nodes);
                            stage = "group-coordinator";
                        }
                    }
                    if (stage.equals("group-coordinator")) {
                        try {
                            admin.describeConsumerGroups(List.of("infra-ready-check"),
                                    new DescribeConsumerGroupsOptions().timeoutMs(10000)).all().get();
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof GroupIdNotFoundException)) {
                                throw e;
                            }
                        }
                        stage = "transaction-coordinator";
                    }
                    if (stage.equals("transaction-coordinator")) {
                        try {
                            admin.describeTransactions(List.of("infra-ready-check"),
                                    new DescribeTransactionsOptions().timeoutMs(10000)).all().get();
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof TransactionalIdNotFoundException)) {
                                throw e;
                            }
                        }
                        System.out.println("group and transaction coordinators available");
                        return;
                    }
                } catch (ExecutionException e) {
                    last = e.getCause();
                }
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("broker not ready (" + stage + "): " + last);
                    System.exit(1);
                }
                Thread.sleep(250);
            }
        }
    }
}
