import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Properties;

/**
 * pgJDBC meets a write that needs approval: a PreparedStatement (the extended protocol, values
 * bound) gets IGA01 with a request id; once the test approved it (it writes a line to stdin), the
 * same statement with the same value runs once. Prints one line per step.
 */
public class JdbcApprovals {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[3]);
    props.setProperty("password", args[4]);
    props.setProperty("sslmode", "require");
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    int id = Integer.parseInt(args[5]);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    try (Connection conn = DriverManager.getConnection(url, props);
        PreparedStatement ps = conn.prepareStatement("DELETE FROM records WHERE id = ?")) {
      ps.setInt(1, id);
      System.out.println("ASKED " + attempt(ps));
      System.out.flush();
      in.readLine();
      System.out.println("RAN " + attempt(ps));
      System.out.println("AGAIN " + attempt(ps));
      try (PreparedStatement read = conn.prepareStatement("SELECT count(*) FROM records")) {
        read.executeQuery().close();
        System.out.println("SESSION ok");
      }
    }
  }

  /** The rows deleted, or the SQLSTATE and message of the refusal. */
  private static String attempt(PreparedStatement ps) {
    try {
      return "rows " + ps.executeUpdate();
    } catch (SQLException e) {
      return e.getSQLState() + " " + e.getMessage().replace('\n', ' ');
    }
  }
}
