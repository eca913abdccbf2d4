import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.Properties;

/**
 * pgJDBC under approvals.wait: a PreparedStatement's executeUpdate (the extended protocol, its
 * value bound) is held until a person answers, then returns its row count. Prints it.
 */
public class JdbcApprovalWait {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[3]);
    props.setProperty("password", args[4]);
    props.setProperty("sslmode", "require");
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    try (Connection conn = DriverManager.getConnection(url, props);
        PreparedStatement ps = conn.prepareStatement("DELETE FROM records WHERE id = ?")) {
      ps.setInt(1, Integer.parseInt(args[5]));
      System.out.println("rows " + ps.executeUpdate());
    }
  }
}
