import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * pgJDBC's own metadata calls through the gateway: the SQL is the driver's, not ours. Run as a
 * single-file program (java -cp postgresql.jar JdbcMetadata.java host port database user password).
 * Prints one JSON line with what each call returned, or the SQLSTATE and message of the first error.
 */
public class JdbcMetadata {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[3]);
    props.setProperty("password", args[4]);
    props.setProperty("sslmode", "require");
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
    try (Connection conn = DriverManager.getConnection(url, props)) {
      DatabaseMetaData meta = conn.getMetaData();
      List<String> parts = new ArrayList<>();
      parts.add("\"tables\":" + column(meta.getTables(null, "public", "records", new String[] {"TABLE"}), "TABLE_NAME"));
      parts.add("\"columns\":" + column(meta.getColumns(null, "public", "records", null), "COLUMN_NAME"));
      parts.add("\"primaryKeys\":" + column(meta.getPrimaryKeys(null, "public", "records"), "COLUMN_NAME"));
      parts.add("\"indexes\":" + column(meta.getIndexInfo(null, "public", "records", false, false), "INDEX_NAME"));
      parts.add("\"schemas\":" + contains(meta.getSchemas(), "TABLE_SCHEM", "public"));
      parts.add("\"typeInfo\":" + contains(meta.getTypeInfo(), "TYPE_NAME", "int4"));
      try (var st = conn.createStatement(); var rs = st.executeQuery("SHOW application_name")) {
        rs.next();
        parts.add("\"applicationName\":" + quote(rs.getString(1)));
      }
      System.out.println("{" + String.join(",", parts) + "}");
    } catch (SQLException e) {
      System.out.println("{\"error\":" + quote(e.getSQLState()) + ",\"message\":" + quote(e.getMessage()) + "}");
    }
  }

  private static String column(ResultSet rs, String name) throws SQLException {
    List<String> values = new ArrayList<>();
    try (rs) {
      while (rs.next()) values.add(quote(rs.getString(name)));
    }
    return "[" + String.join(",", values) + "]";
  }

  private static String contains(ResultSet rs, String name, String wanted) throws SQLException {
    try (rs) {
      while (rs.next()) if (wanted.equals(rs.getString(name))) return "true";
    }
    return "false";
  }

  private static String quote(String s) {
    if (s == null) return "null";
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
